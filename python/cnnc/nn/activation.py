"""cnnc.nn activation modules (torch.nn's constructor signatures). Filled in by its op family."""
__all__ = []
