"""Preference optimisation of the upstream (SFT, DPO, KTO, ORPO, SimPO through TRL) and the
bootstrap loop that turns corrections into preference pairs round after round."""
