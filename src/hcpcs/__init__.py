"""hcpcs: the official HCPCS/CPT code reference and the Medicare billing rules, from CMS release files."""

__version__ = "0.1.0"
