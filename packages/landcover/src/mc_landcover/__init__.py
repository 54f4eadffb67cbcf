"""Random-order autoregressive models of land-cover maps (RandAR on NLCD)."""
