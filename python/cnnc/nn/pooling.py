"""cnnc.nn pooling modules (torch.nn's constructor signatures)."""
__all__ = []
