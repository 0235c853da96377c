"""Customer-facing words in Russian (the default), Kazakh and English."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("ru", "kk", "en")
DEFAULT = "ru"

MESSAGES: dict[str, dict[str, str]] = {
    "receipt": {"ru": "Чек", "kk": "Түбіртек", "en": "Receipt"},
    "merchant": {"ru": "Магазин", "kk": "Дүкен", "en": "Merchant"},
    "order": {"ru": "Заказ", "kk": "Тапсырыс", "en": "Order"},
    "description": {"ru": "Описание", "kk": "Сипаттама", "en": "Description"},
    "amount": {"ru": "Сумма", "kk": "Сома", "en": "Amount"},
    "date": {"ru": "Дата", "kk": "Күні", "en": "Date"},
    "status": {"ru": "Статус", "kk": "Мәртебе", "en": "Status"},
    "transaction": {"ru": "Транзакция", "kk": "Транзакция", "en": "Transaction"},
    "card": {"ru": "Карта", "kk": "Карта", "en": "Card"},
    "service": {"ru": "Услуга", "kk": "Қызмет", "en": "Service"},
    "contract": {"ru": "Номер договора", "kk": "Келісімшарт нөмірі", "en": "Contract"},
    "test_payment": {"ru": "Тестовый платёж", "kk": "Сынақ төлемі", "en": "Test payment"},
    "continue": {"ru": "Продолжить", "kk": "Жалғастыру", "en": "Continue"},
    "back_to_store": {
        "ru": "Вернуться в магазин",
        "kk": "Дүкенге оралу",
        "en": "Return to the store",
    },
    "crediting": {
        "ru": "Зачисляем платёж в пользу услуги. Страница обновится сама.",
        "kk": "Төлем қызметке есептелуде. Бет өздігінен жаңарады.",
        "en": "Crediting the service. This page refreshes by itself.",
    },
    "processing": {
        "ru": "Платёж обрабатывается. Страница обновится сама.",
        "kk": "Төлем өңделуде. Бет өздігінен жаңарады.",
        "en": "The payment is being processed. This page refreshes by itself.",
    },
    "status_pending": {"ru": "Ожидает оплаты", "kk": "Төлемді күтуде", "en": "Awaiting payment"},
    "status_authorized": {
        "ru": "Средства заблокированы",
        "kk": "Қаражат бұғатталды",
        "en": "Funds held",
    },
    "status_success": {"ru": "Оплачено", "kk": "Төленді", "en": "Paid"},
    "status_completed": {"ru": "Оплачено", "kk": "Төленді", "en": "Paid"},
    "status_error": {"ru": "Ошибка оплаты", "kk": "Төлем қатесі", "en": "Payment failed"},
    "status_denied": {
        "ru": "Платёж отклонён",
        "kk": "Төлем қабылданбады",
        "en": "Payment declined",
    },
    "success_title": {
        "ru": "Оплата прошла успешно",
        "kk": "Төлем сәтті өтті",
        "en": "Payment successful",
    },
    "success_text": {
        "ru": "Спасибо! Магазин получит уведомление об оплате.",
        "kk": "Рахмет! Дүкен төлем туралы хабарлама алады.",
        "en": "Thank you! The store will be notified of the payment.",
    },
    "failed_title": {"ru": "Оплата не прошла", "kk": "Төлем өтпеді", "en": "Payment failed"},
    "failed_text": {
        "ru": "Деньги не списаны. Попробуйте ещё раз или другой картой.",
        "kk": "Ақша алынған жоқ. Қайталап көріңіз немесе басқа картаны пайдаланыңыз.",
        "en": "No money was taken. Try again or use another card.",
    },
    "not_found_title": {
        "ru": "Платёж не найден",
        "kk": "Төлем табылмады",
        "en": "Payment not found",
    },
    "not_found_text": {
        "ru": "Проверьте ссылку или вернитесь в магазин.",
        "kk": "Сілтемені тексеріңіз немесе дүкенге оралыңыз.",
        "en": "Check the link or go back to the store.",
    },
    "bad_request_title": {"ru": "Неверный запрос", "kk": "Қате сұрау", "en": "Bad request"},
    "reason": {"ru": "Причина", "kk": "Себебі", "en": "Reason"},
}


def pick(requested: str | None, accept_language: str | None) -> str:
    if requested in LANGUAGES:
        assert requested is not None
        return requested
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT


def translator(lang: str) -> Callable[[str], str]:
    def t(key: str) -> str:
        entry = MESSAGES.get(key)
        if entry is None:
            return key
        return entry.get(lang) or entry[DEFAULT]

    return t
