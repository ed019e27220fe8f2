"""cnnc.nn normalization modules (torch.nn's constructor signatures)."""
__all__ = []
