"""Object-centric segmentation of videos (Loci-Segmented)."""
