"""cnnc.nn activation modules (torch.nn's constructor signatures)."""
__all__ = []
