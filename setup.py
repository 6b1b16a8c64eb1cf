"""Package discovery for emgpipe (everything else is in pyproject.toml).

The detector parameter files live in the top-level ``models/`` folder, which
the brief asks for, but an installed (non-editable) emgpipe must find them
without the source tree. So ``models/`` is installed as the sub-package
``emgpipe._models``; :mod:`emgpipe.models` loads them with importlib.resources.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["emgpipe", "emgpipe.*"]) + ["emgpipe._models"],
    package_dir={"emgpipe": "emgpipe", "emgpipe._models": "models"},
)
