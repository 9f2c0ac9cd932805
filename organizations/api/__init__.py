"""The organization portal's REST API (issue 7): the same services and permission gate
as the pages, under /api/v1/organizations/<org_id>/…"""
