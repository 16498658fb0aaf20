"""The `fqselect` command (`python -m fqselect`, and the installed script)."""

from .runtime import single_threaded_blas

single_threaded_blas()  # before numpy and OpenCV load, which importing the CLI does

from .cli import main  # noqa: E402

if __name__ == "__main__":
    main()
