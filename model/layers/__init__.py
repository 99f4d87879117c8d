"""Building blocks shared by VideoLights, TR-DETR and TaskWeave."""
