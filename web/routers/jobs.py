"""Ingestion jobs: `GET /api/jobs` and `GET /api/jobs/{id}`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel

from ingest.jobs import JobInfo
from web.deps import JobsDep, require_api_key

api = APIRouter(prefix="/api", tags=["jobs"], dependencies=[Depends(require_api_key)])
pages = APIRouter(include_in_schema=False)


class JobList(BaseModel):
    jobs: list[JobInfo]


@api.get("/jobs", response_model=JobList)
def list_jobs(jobs: JobsDep) -> JobList:
    return JobList(jobs=jobs.recent())


@api.get("/jobs/{job_id}", response_model=JobInfo)
def get_job(job_id: str, jobs: JobsDep) -> JobInfo:
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job with id {job_id!r} (jobs are kept while the server runs)")
    return job
