"""pipeline layer of the VideoLights pipeline."""
