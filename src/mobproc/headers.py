"""The MOBPROC v1 API's documented headers, named once for both of its sides: the server's door
(:mod:`mobproc.api.door`) reads them, the client (:mod:`mobproc.sdk`) sets them. It imports
nothing, so that the client stays free of the server."""

TENANT_HEADER = "X-TNGO-TENANT"
CLIENT_HEADER = "client_id"
EMPLOYEE_HEADER = "X-TNGO-CONTEXT-EMPLOYEEID"
COMPANY_EMPLOYEE_HEADER = "X-TNGO-CONTEXT-COMPANYEMPLOYEEID"
HIERARCHY_HEADER = "X-TNGO-CONTEXT-HIERARCHYID"
ACTIVITY_HEADER = "X-TNGO-CONTEXT-ACTIVITYID"
CORRELATION_HEADER = "X-TNGO-CONTEXT-CORRELATIONID"
