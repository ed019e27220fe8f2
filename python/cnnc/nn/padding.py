"""cnnc.nn padding modules (torch.nn's constructor signatures)."""
__all__ = []
