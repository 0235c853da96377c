// The modal's few words, in the gateway's three languages. Russian is the default.

const TEXTS = {
  ru: {
    title: "Оплата",
    test: "Тестовый режим",
    close: "Закрыть",
    loading: "Создаём платёж…",
    failed: "Не удалось начать оплату",
    invalid: "Магазин передал неверные данные платежа.",
    forbidden: "Этот сайт не может принимать платежи через виджет.",
    conflict: "Этот заказ уже оплачивается или оплачен.",
    rateLimited: "Слишком много попыток. Повторите чуть позже.",
    unavailable: "Платёжный сервис временно недоступен. Попробуйте позже.",
    network: "Нет связи с платёжным сервисом. Проверьте подключение и попробуйте снова.",
  },
  kk: {
    title: "Төлем",
    test: "Тест режимі",
    close: "Жабу",
    loading: "Төлем жасалуда…",
    failed: "Төлемді бастау мүмкін болмады",
    invalid: "Дүкен төлем деректерін қате жіберді.",
    forbidden: "Бұл сайт виджет арқылы төлем қабылдай алмайды.",
    conflict: "Бұл тапсырыс төленіп жатыр немесе төленген.",
    rateLimited: "Әрекет тым көп. Сәл кейінірек қайталаңыз.",
    unavailable: "Төлем қызметі уақытша қолжетімсіз. Кейінірек қайталаңыз.",
    network: "Төлем қызметімен байланыс жоқ. Қосылымды тексеріп, қайталаңыз.",
  },
  en: {
    title: "Payment",
    test: "Test mode",
    close: "Close",
    loading: "Creating the payment…",
    failed: "The payment could not be started",
    invalid: "The shop sent invalid payment details.",
    forbidden: "This site cannot take payments through the widget.",
    conflict: "This order is already being paid or has been paid.",
    rateLimited: "Too many attempts. Please try again shortly.",
    unavailable: "The payment service is unavailable right now. Please try again later.",
    network: "The payment service cannot be reached. Check your connection and try again.",
  },
};

/** "ru", "kk" or "en" from a locale such as "en-GB" or "kz"; Russian for anything else. */
export function resolveLocale(locale) {
  const code = String(locale || "ru").toLowerCase().slice(0, 2);
  if (code === "kz") return "kk";
  return code in TEXTS ? code : "ru";
}

export function texts(locale) {
  return TEXTS[resolveLocale(locale)];
}

/** The customer's message for a failed creation: short, without the developer's detail. */
export function errorMessage(error, locale) {
  const t = texts(locale);
  const status = error && error.status;
  if (!status) return t.network;
  if (status === 403) return t.forbidden;
  if (status === 409) return t.conflict;
  if (status === 429) return t.rateLimited;
  if (status >= 500) return t.unavailable;
  return t.invalid;
}
