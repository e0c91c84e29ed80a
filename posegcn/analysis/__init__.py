"""What a trained network learned and how it performs, drawn and tabulated for people.

* :mod:`posegcn.analysis.affinity` — every graph layer's effective affinity, DG-Net's
  per-frame dynamical graphs, the strongest edges beyond the skeleton;
* :mod:`posegcn.analysis.figures` — 2D/3D skeleton plots, affinity heatmaps, GIFs (matplotlib);
* :mod:`posegcn.analysis.tables` — the action-wise results table.

The training logger (:mod:`posegcn.callbacks`), ``posegcn lift`` and the affinity notebook use
them; nothing in the layers below (``nn``, ``models``, ``data``, ``metrics``, ``lit``) does.
The modules are not imported here, so that reading a table does not load matplotlib.
"""
