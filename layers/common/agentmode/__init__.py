"""Shared code for every Agent Mode Lambda function (deployed as the `common` layer on /opt/python)."""
