"""The cookbook: one package per chapter, one module per recipe (see recipes/README.md).

INDEX lists the recipes in reading order; tests/test_recipes_index.py keeps it equal to the files.
"""

INDEX: tuple[str, ...] = ()
