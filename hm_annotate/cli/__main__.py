"""``python -m hm_annotate.cli``: the ``hm-annotate`` command, for launchers that start a module
(``torchrun -m hm_annotate.cli pseudo-label ...``, one process per GPU)."""

from hm_annotate.cli import main

if __name__ == "__main__":
    main()
