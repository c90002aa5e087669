"""The no-cloud runtime: template.yaml's resources on moto, its functions invoked in-process."""
