"""Loci-Segmented (Traub et al.), compact: slots, cascaded decoders, hyper-network encoder, background
module, predictor, discovery and proposal network (one concern per module)."""

from mc_loci.models.loci_segmented.config import MODEL_NAME, LociConfig
from mc_loci.models.loci_segmented.model import PARTS, LociSegmented

__all__ = ["MODEL_NAME", "PARTS", "LociConfig", "LociSegmented"]
