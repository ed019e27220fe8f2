"""cnnc.nn conv modules (torch.nn's constructor signatures)."""
__all__ = []
