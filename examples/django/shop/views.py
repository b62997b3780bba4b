"""Sign-up: the user's row and the welcome email's job commit together, or neither does."""
import json

from django.db import connection, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt  # an API for the example; a form would keep Django's CSRF check
@require_POST
def signup(request):
    email = request.POST["email"]
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO shop_users (email) VALUES (%s) RETURNING id", [email])
                user_id = cursor.fetchone()[0]
                # errand's worker (tasks.ts) runs "send-welcome-email" once this transaction commits.
                cursor.execute(
                    "SELECT errand.enqueue(%s, %s::jsonb)",
                    ["send-welcome-email", json.dumps({"userId": user_id, "email": email})],
                )
                job_id = cursor.fetchone()[0]
                if request.POST.get("fail") == "after-enqueue":
                    raise RuntimeError("the sign-up failed after the enqueue")
    except RuntimeError as error:
        return JsonResponse({"error": str(error)}, status=500)
    return JsonResponse({"userId": user_id, "jobId": job_id}, status=201)
