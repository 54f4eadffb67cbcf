"""Where the masks of a data root are (click-free, light: the CLI modules import it)."""

DEFAULT_SUBDIR = "warped_masks"   # the seed's --subdir default
SUBDIR_HELP = ("Sub-folder of --data-root holding the masks [default: warped_masks when "
               "DATA_ROOT/warped_masks exists (the seed's default), else DATA_ROOT itself].")
