"""What a run is and what drives it: the stages (`runs/stages/`) and the run folder they write and read.

A run folder holds a job's record (`record.py`), its checkpoints and their state
(`checkpoints.py`, `run_checkpoint.py`), and is found by path or as `latest` (`folder.py`);
`training_plan.py` decides how a job resumes or branches and `output_dirs.py` names the folders.
This room imports `models/`, `data/` and `conf/`, never `hpsearch/` (which sits beside it and
uses it).
"""
