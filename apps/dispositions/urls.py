from django.urls import path

from apps.dispositions import views

app_name = "dispositions"

urlpatterns = [
    path("", views.my_queue, name="my_queue"),
    path("team/", views.team_queue, name="team_queue"),
    path("leads/<int:pk>/touch/", views.touch_create, name="touch_create"),
    path("leads/<int:pk>/disposition/", views.disposition_create, name="disposition_create"),
    path("leads/<int:pk>/reassign/", views.lead_reassign, name="lead_reassign"),
    path("dispositions/<int:pk>/undo/", views.disposition_undo, name="disposition_undo"),
    path("bulk/", views.disposition_bulk, name="disposition_bulk"),
    path("reason-codes/", views.reason_codes, name="reason_codes"),
    path("reason-codes/<int:pk>/rename/", views.reason_code_rename, name="reason_code_rename"),
    path("reason-codes/<int:pk>/move/", views.reason_code_move, name="reason_code_move"),
    path("reason-codes/<int:pk>/retire/", views.reason_code_retire, name="reason_code_retire"),
    path("reason-codes/<int:pk>/restore/", views.reason_code_restore, name="reason_code_restore"),
    path("feedback/", views.feedback, name="feedback"),
    path("feedback/nurture.csv", views.nurture_export, name="nurture_export"),
]
