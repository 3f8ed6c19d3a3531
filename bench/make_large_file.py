"""Builds a large COMPAS-like HDF5 file for the extraction benchmark.

Usage: /usr/bin/python3 bench/make_large_file.py SRC.h5 DST.h5 COPIES

Every BSE group of SRC is repeated COPIES times; copy k shifts SEED by k * N (N = rows of
BSE_System_Parameters), so SEEDs stay unique and ascending as in a real run. Datasets keep
COMPAS's layout: 1-D, chunked (100000,) like COMPAS's default, maxshape unlimited, no
compression, a `units` attribute. Run_Details is copied once.
"""
import sys

import h5py
import numpy as np


def main(src_path, dst_path, copies):
    with h5py.File(src_path, "r") as src, h5py.File(dst_path, "w") as dst:
        n_systems = int(src["BSE_System_Parameters"]["SEED"].shape[0])
        for group_name in src:
            if group_name == "Run_Details":
                src.copy(src[group_name], dst, name=group_name)
                continue
            sg = src[group_name]
            dg = dst.create_group(group_name)
            for col in sg:
                data = sg[col][()]
                if col == "SEED":
                    parts = [data + np.uint64(k * n_systems) for k in range(copies)]
                else:
                    parts = [data] * copies
                full = np.concatenate(parts)
                ds = dg.create_dataset(col, data=full, chunks=(100000,), maxshape=(None,))
                if "units" in sg[col].attrs:
                    ds.attrs["units"] = sg[col].attrs["units"]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
