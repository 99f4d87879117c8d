"""Loss functions (pure, on tensors) and the criterion that combines them."""
