"""What a host's middleware puts on request.user: who manages, which departments a user
works in (kept in the user's last name here, for brevity)."""


class DeskMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            user.is_manager = user.first_name == "manager"
            user.departments = {int(d) for d in user.last_name.split(",") if d}
        return self.get_response(request)
