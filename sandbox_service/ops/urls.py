"""Operations endpoints: health and readiness probes, Prometheus metrics."""


urlpatterns: list = []
