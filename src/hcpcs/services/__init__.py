"""The services: what the interfaces call. Each module answers one kind of question from the store
(`reference`, `fees`, `search`, `diff`, `listing`), loads releases (`update`), or checks claims
(`checking`). `Hcpcs` is the read session over one store that every call takes as `hc=`."""

from hcpcs.store.session import Hcpcs, default

__all__ = ["Hcpcs", "default"]
