"""cnnc.nn dropout modules (torch.nn's constructor signatures)."""
__all__ = []
