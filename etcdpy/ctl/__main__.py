"""``python -m etcdpy.ctl``: the same as the ``etcdpyctl`` command."""

from etcdpy.cli.ctl import main

if __name__ == "__main__":
    main()
