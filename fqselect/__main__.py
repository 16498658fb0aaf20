"""The `fqselect` command (`python -m fqselect`, and the installed script)."""

from .run.guard import guard_command
from .run.process import single_threaded_blas
from .urls import hide_credentials

hide_credentials()  # before the guard forks: neither process shows a stream's password in `ps`
guard_command()  # first: forking costs about a millisecond before numpy and OpenCV load
single_threaded_blas()  # before numpy and OpenCV load, which importing the CLI does

from .cli import main  # noqa: E402

if __name__ == "__main__":
    main()
