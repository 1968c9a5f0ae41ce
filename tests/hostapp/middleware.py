"""What a host's middleware puts on request.user: who manages, which departments a user
works in (kept in the user's first and last names here, for brevity)."""


def decorate(user) -> None:
    user.is_manager = user.first_name == "manager"
    user.departments = {int(d) for d in user.last_name.split(",") if d}


class DeskMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            decorate(request.user)
        return self.get_response(request)


def prepare_replay(request) -> None:
    """The host's EXPORTS_PREPARE_REQUEST: a replayed request gets what the middleware adds."""
    decorate(request.user)
