"""The notebook layer: the ``%load_ext jupyter_modelservice`` extension, its magics and progress bars.

The only part of the package that imports IPython / ipywidgets. Nothing is
imported here so that loading the extension stays fast.
"""
