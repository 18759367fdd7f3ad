"""``/dashboard/overview``: today's and the month's payments per currency, method and day, drawn as SVG on the
server; failing webhook endpoints and stuck attempts flagged."""

from __future__ import annotations

from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.dashboard.charts import Bar, bar_chart, rate_bars
from cauri.dashboard.routes import _GZIP, _context, _gateway, _language, _render, _session, _to_login
from cauri.domain.errors import ValidationFailed
from cauri.domain.overview import STUCK_MINUTES, stuck_minutes
from cauri.i18n import format_money, translations
from cauri.services import overview as service
from cauri.services.overview import Overview


def _charts(data: Overview, language: str) -> dict[str, Markup]:
    """One chart per currency: the month's succeeded volume per day, with the day's success rate."""
    _ = translations(language).gettext
    charts: dict[str, Markup] = {}
    for currency, days in data.days.items():
        peak = max((f.volume for _d, f in days), default=0)
        tip = _("%(day)s: %(volume)s, %(succeeded)d of %(count)d payments succeeded")
        bars = [
            Bar(
                label=str(day.day) if day.day == 1 or day.day % 5 == 0 else "",
                value=figures.volume,
                title=tip
                % {
                    "day": day.isoformat(),
                    "volume": format_money(figures.volume, currency, language),
                    "succeeded": figures.succeeded,
                    "count": figures.count,
                },
                rate=figures.rate,
            )
            for day, figures in days
        ]
        charts[currency] = bar_chart(
            bars,
            title=_("Succeeded volume per day in %(currency)s") % {"currency": currency},
            top_label=format_money(peak, currency, language),
            rate_label=_("line: success rate (0-100 %)"),
        )
    return charts


def _method_chart(data: Overview, language: str) -> Markup | None:
    _ = translations(language).gettext
    tip = _("%(method)s: %(succeeded)d of %(count)d attempts succeeded")
    rows = [
        (f"{method} ({currency})", f.rate, tip % {"method": method, "succeeded": f.succeeded, "count": f.count})
        for (method, currency), f in sorted(data.month.by_method.items())
    ]
    return rate_bars(rows, title=_("Success rate per method this month")) if rows else None


async def overview_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _to_login()
    context = await _context(request, session)
    app = context["app"]
    env = "live" if request.query_params.get("env") == "live" else "sandbox"
    language = _language(request)
    errors: list[str] = []
    try:
        minutes = stuck_minutes(request.query_params.get("stuck"))
    except ValidationFailed:
        errors.append(translations(language).gettext("The stuck field must be 1 to 10080 minutes."))
        minutes = STUCK_MINUTES
    data = await service.overview(_gateway(request).uow(), session, app.id, env, minutes) if app else None
    context.update(
        {
            "env": env,
            "data": data,
            "errors": errors,
            "charts": _charts(data, language) if data else {},
            "method_chart": _method_chart(data, language) if data else None,
            "env_query": {e: urlencode({"app": app.id, "env": e}) for e in ("sandbox", "live")} if app else {},
        }
    )
    return _render(request, "overview.html", context, status_code=422 if errors else 200)


routes = [Route("/dashboard/overview", overview_page, methods=["GET"], middleware=_GZIP)]
