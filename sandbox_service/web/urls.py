from django.contrib.auth import views as auth_views
from django.urls import path

from sandbox_service.web import views

urlpatterns = [
    path("", views.home, name="web-home"),
    path("problems/<slug:slug>/", views.problem_detail, name="web-problem"),
    path("playground/", views.playground, name="web-playground"),
    path("submissions/", views.submission_list, name="web-submissions"),
    path("submissions/<uuid:token>/", views.submission_detail, name="web-submission"),
    path("submissions/<uuid:token>/state", views.submission_state, name="web-submission-state"),
    path("accounts/login/", views.csp(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
