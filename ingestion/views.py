"""One thin view per endpoint: authenticate, call the service, answer in the envelope."""

from mappings.categories import CATEGORY_OF_PATH

from . import schema
from .apiview import ApiView, documented_post
from .parsers import ApiJSONParser
from .services import datapoint_ingest, datapoints_ingest_batch


class IngestView(ApiView):
    """``POST /{version}/{profiles,events,inventory}``: store one data point."""

    parser_classes = [ApiJSONParser]
    version = "v3"
    path_name = "profiles"

    def ingest(self, request):
        ingested = datapoint_ingest(
            caller=request.user,
            category=CATEGORY_OF_PATH[self.path_name],
            version=self.version,
            body=request.data,
            log=self.log_entry(),
        )
        body = self.envelope(
            success=True, messages=[], datatalks_id=ingested.datatalks_id
        )
        return self.answer(
            body,
            judgement=ingested.judgement,
            changed=ingested.changed,
            logged=ingested.logged,
        )


class BatchIngestView(IngestView):
    """``POST /v3/{profiles,events,inventory}/batch``: up to 1,000 items, each on its own."""

    def ingest(self, request):
        results = datapoints_ingest_batch(
            caller=request.user,
            category=CATEGORY_OF_PATH[self.path_name],
            body=request.data,
        )
        failed = sum(1 for r in results if not r.success)
        messages = (
            [f"{failed} of {len(results)} items were rejected; see results"]
            if failed
            else []
        )
        body = self.envelope(success=not failed, messages=messages)
        body["results"] = [
            {
                "index": r.index,
                "success": r.success,
                "messages": r.messages,
                "datatalksId": str(r.datatalks_id) if r.datatalks_id else None,
            }
            for r in results
        ]
        stored = [r for r in results if r.success]
        changed = any(r.changed for r in stored) if stored else None
        return self.answer(body, changed=changed)


def batch_view(path_name: str):
    """The batch view for one category, with its own OpenAPI description."""
    return documented_post(
        BatchIngestView,
        f"{path_name.title()}BatchView",
        schema.batch_operation(path_name),
        "ingest",
        version="v3",
        path_name=path_name,
    )


def ingest_view(version: str, path_name: str):
    """The view for one version and category, with its own OpenAPI description."""
    return documented_post(
        IngestView,
        f"{path_name.title()}{version.upper()}View",
        schema.ingest_operation(version, path_name),
        "ingest",
        version=version,
        path_name=path_name,
    )
