"""model layer of the VideoLights pipeline: the field's models as their authors released them
(model.zoo), their configs and presets, building them, and converting the authors' checkpoints."""
