"""The parts of ``scripts/run_book.py``, each with one job.

* :mod:`.book`: the book's layout (the repository, the notebooks in order, the build);
* :mod:`.arguments`: the checks of the command line and the parameters injected;
* :mod:`.kernel_memory`: the peak memory of the kernel that executes a notebook;
* :mod:`.execution`: executing one notebook with papermill and publishing it;
* :mod:`.record`: the book's time record;
* :mod:`.jobs`: how many notebooks run at a time, in which order, in worker processes;
* :mod:`.report`: the summary of a recorded run.

Each imports only modules listed before it (and the library, ``rc``). The folder is not a
package of the library: ``run_book.py`` puts its own folder on ``sys.path`` to import it.
"""
