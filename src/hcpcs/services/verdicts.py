"""The verdict vocabulary (`hcpcs.core.verdicts`), for the services and the interfaces."""

from hcpcs.core.verdicts import COLOURS, LABELS, VERDICT_CODES, Verdict, VerdictCode, verdict

__all__ = ["COLOURS", "LABELS", "VERDICT_CODES", "Verdict", "VerdictCode", "verdict"]
