#!/usr/bin/env bash
# Precompute the 3D attention masks of the unplug_charger demos: the seed's bash/preprocess_masks.sh
# for `mc`. Every setting can be changed through the environment; the defaults are the seed's
# (task unplug_charger, our simulated version of it; both splits; objects 31 34 35 92; 1 cm around
# the objects; 5 cm around the gripper; 4096 points). Extra arguments go to preprocess-masks,
# e.g. `bash bash/preprocess_masks.sh --overwrite`.
#
#   mc pointflow script preprocess_masks.sh --copy-to bash   # puts it where the seed has it
#   DATA_ROOT=demos/sim bash bash/preprocess_masks.sh
set -euo pipefail

MC=${MC:-mc}
TASK=${TASK:-unplug_charger}
DATA_ROOT=${DATA_ROOT:-demos/sim}
SPLIT=${SPLIT:-both}
OBJECT_IDS=${OBJECT_IDS:-"31 34 35 92"}
DISTANCE_THRESHOLD=${DISTANCE_THRESHOLD:-0.01}
GRIPPER_RADIUS=${GRIPPER_RADIUS:-0.05}
N_POINTS=${N_POINTS:-4096}

echo "Preprocessing attention masks for ${TASK} (${SPLIT}) under ${DATA_ROOT}"
# shellcheck disable=SC2086  # MC may be a command with arguments; OBJECT_IDS is a list
${MC} pointflow preprocess-masks \
    --task "${TASK}" \
    --data-root "${DATA_ROOT}" \
    --split "${SPLIT}" \
    --object-ids ${OBJECT_IDS} \
    --distance-threshold "${DISTANCE_THRESHOLD}" \
    --gripper-radius "${GRIPPER_RADIUS}" \
    --n-points "${N_POINTS}" \
    "$@"
echo "Done. Check the masks with: mc pointflow verify-masks --task ${TASK} --data-root ${DATA_ROOT}"
