"""The organization portal's REST API (the REST API): the same services and permission gate
as the pages, under /api/v1/organizations/<org_id>/…"""
