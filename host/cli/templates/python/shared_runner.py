# componentize-py looks up the exported `vu` resource (interface `shared-runner`) as the class `Vu` in a
# module named `shared_runner`; the scenario itself lives in scenario.py.
from scenario import Vu  # noqa: F401
