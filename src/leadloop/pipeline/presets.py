"""The stage presets from the seeds: (key, Vietnamese name, English name, category, outcomes)."""

# stages where the lead waits for a time the person chose: the idle clock stops there
PAUSING = {"k3"}

PRESETS = {
    "telesales": [
        ("new", "Mới", "New", "new", []),
        (
            "k3",
            "K3 – Bận, gọi lại sau",
            "K3 – Busy, call back",
            "working",
            ["busy_callback", "no_answer"],
        ),
        ("k2", "K2 – Đang cân nhắc", "K2 – Thinking it over", "qualified", ["thinking"]),
        (
            "k5",
            "K5 – Đã tư vấn, chưa chốt",
            "K5 – Consulted, not closed",
            "qualified",
            ["consulted"],
        ),
        ("k1", "K1 – Có nhu cầu, mua", "K1 – Needs and buys", "won", ["bought"]),
        ("k4-1", "K4.1 – Dữ liệu xấu", "K4.1 – Bad data", "invalid", ["wrong_number"]),
        (
            "k4-2",
            "K4.2 – Từ chối / không có nhu cầu",
            "K4.2 – Refused / no need",
            "lost",
            ["refused"],
        ),
    ],
    "journey": [
        ("new", "Mới", "New", "new", []),
        ("interested", "Quan tâm", "Interested", "working", ["busy_callback", "no_answer"]),
        ("potential", "Tiềm năng", "Potential", "qualified", ["thinking", "consulted"]),
        ("trial", "Dùng thử 7 ngày", "7-day trial", "qualified", []),
        ("bought", "Đã mua", "Bought", "won", ["bought"]),
        ("not-bought", "Không mua", "Not bought", "lost", ["refused", "wrong_number"]),
    ],
    "qualification": [
        ("new", "Mới", "New", "new", []),
        ("researched", "Đã tìm hiểu", "Researched", "working", []),
        (
            "not-reached",
            "Chưa liên hệ được",
            "Not reached",
            "working",
            ["no_answer", "busy_callback"],
        ),
        ("potential", "Tiềm năng", "Potential", "qualified", ["thinking", "consulted"]),
        ("hot", "Nóng", "Hot", "qualified", []),
        ("closed", "Đã chốt", "Closed", "won", ["bought"]),
        ("wrong-target", "Sai đối tượng", "Wrong target", "invalid", ["wrong_number", "refused"]),
    ],
}
