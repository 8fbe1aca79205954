def navigation(request) -> dict:
    return {"member": getattr(request, "member", None)}
