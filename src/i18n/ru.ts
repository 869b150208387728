import type { En, MessageKey } from './en.js';
import type { EntryPlaceholders, SameSet } from './types.js';

/** Russian plural forms: 1 алерт, 3 алерта, 5 алертов, 1.5 алерта (Intl.PluralRules('ru') categories). */
interface RuPlural {
  readonly one: string;
  readonly few: string;
  readonly many: string;
  readonly other: string;
}

/** The shape ru must have: every English key, a string for a string and all four forms for a plural. */
type RuShape = { readonly [K in MessageKey]: En[K] extends string ? string : RuPlural };

/**
 * Русский каталог. Цены, пары, биржи и команды приходят плейсхолдерами и не переводятся. Тон — на «вы»,
 * коротко, как в английском.
 */
export const ru = {
  // ---- длительности и возраст котировки ----
  'unit.d': '{n} д',
  'unit.h': '{n} ч',
  'unit.m': '{n} мин',
  'unit.s': '{n} с',
  'unit.separator': ' ',
  'age.justNow': 'только что',
  'age.seconds': '{n} с назад',
  'age.minutes': '{n} мин назад',
  'age.hours': '{n} ч назад',
  'age.days': '{n} дн. назад',

  // ---- /price ----
  'source.stream': 'живой поток',
  'source.poll': 'опрос по REST (поток недоступен)',
  'source.gapfill': 'восполнение пропуска',
  'source.rest': 'снимок по REST; живой поток запускается',
  'price.line': '{pair} на {exchange}: {price} {quote}',
  'price.change24h': '{arrow} {pct} за 24 ч',
  'price.age': 'котировка {age} · {source}',

  // ---- /help и меню команд ----
  'help.intro': 'MaxFlash: курсы криптовалют в реальном времени и алерты.',
  'help.try': 'Попробуйте: /price BTC/USDT',
  'help.examples': 'Примеры:',
  'cmd.price.usage': '/price <пара> [on <биржа>]',
  'cmd.price.summary': 'последняя цена, изменение за 24 ч и свежесть котировки',
  'cmd.alert.usage': '/alert <пара> <условие> [every 30m] [for 7d] [on <биржа>] [-- заметка]',
  'cmd.alert.summary': 'сообщить, когда цена выполнит условие',
  'cmd.alerts.usage': '/alerts',
  'cmd.alerts.summary': 'алерты этого чата с их номерами',
  'cmd.delete.usage': '/delete <номер> | all',
  'cmd.delete.summary': 'удалить алерт по номеру (см. /alerts) или все сразу',
  'cmd.watch.usage': '/watch <пара> [процент] [on <биржа>]',
  'cmd.watch.summary': 'сообщение всякий раз, когда пара сдвинется на процент (по умолчанию 3%) в любую сторону',
  'cmd.unwatch.usage': '/unwatch <пара> [on <биржа>]',
  'cmd.unwatch.summary': 'убрать пару из списка отслеживания',
  'cmd.watchlist.usage': '/watchlist',
  'cmd.watchlist.summary': 'текущая цена, изменение за 24 ч и источник для каждой отслеживаемой пары',
  'cmd.timezone.usage': '/timezone [<имя IANA> | UTC]',
  'cmd.timezone.summary': 'показать или задать часовой пояс для времени в алертах (рядом с UTC)',
  'cmd.webhook.usage': '/webhook [<https URL> | off]',
  'cmd.webhook.summary': 'также отправлять каждый алерт этого чата POST-запросом на URL (подписанный JSON)',
  'cmd.language.usage': '/language [en | ru]',
  'cmd.language.summary': 'показать или выбрать язык ответов и алертов',
  'cmd.help.usage': '/help [команда]',
  'cmd.help.summary': 'что умеет бот или как пользоваться одной командой',

  // ---- общие ответы ----
  'reply.example': 'Пример: {example}',
  'reply.unknownCommandSuggest': 'Неизвестная команда /{name}. Может быть, /{suggestion}? Все команды — в /help.',
  'reply.unknownCommand': 'Неизвестная команда /{name}. Что я умею — в /help.',
  'reply.notACommand': 'Команды начинаются с косой черты, например /price BTC/USDT. Список команд — /help.',
  'reply.tooLong': {
    one: 'Сообщение слишком длинное ({count} символ).',
    few: 'Сообщение слишком длинное ({count} символа).',
    many: 'Сообщение слишком длинное ({count} символов).',
    other: 'Сообщение слишком длинное ({count} символа).',
  },
  'reply.exchangeDown': 'Сейчас нет связи с {exchange}; цены вернутся, как только она появится. Попробуйте через минуту.',
  'reply.internal': 'У нас что-то пошло не так. Ошибка записана в журнал; попробуйте ещё раз.',
  'button.exchangeDown': 'Сейчас нет связи с {exchange}. Попробуйте через минуту.',
  'button.internal': 'У нас что-то пошло не так. Ошибка записана в журнал; попробуйте ещё раз.',
  'admins.alerts': 'Менять алерты этой группы могут только её администраторы.',
  'admins.watchlist': 'Менять список отслеживания этой группы могут только её администраторы.',
  'admins.settings': 'Менять настройки этой группы могут только её администраторы.',
  'admins.cannotCheck': 'Не удалось проверить в Telegram, администратор ли вы в этой группе. Попробуйте через минуту.',
  'starting.alerts': 'Алерты ещё запускаются (открывается база данных). Попробуйте через несколько секунд.',
  'starting.watchlist': 'Список отслеживания ещё запускается (открывается база данных). Попробуйте через несколько секунд.',
  'starting.settings': 'Настройки ещё загружаются (открывается база данных). Попробуйте через несколько секунд.',
  'starting.buttons': 'Алерты ещё запускаются. Попробуйте через несколько секунд.',

  // ---- условия: в списке и в сработавшем алерте ----
  'cond.above': '{pair} выше {price}',
  'cond.atOrAbove': '{pair} не ниже {price}',
  'cond.below': '{pair} ниже {price}',
  'cond.atOrBelow': '{pair} не выше {price}',
  'cond.crosses': '{pair} пересекает {price}',
  'cond.upFromCreation': '{pair}: рост на {pct}% от цены при создании',
  'cond.downFromCreation': '{pair}: падение на {pct}% от цены при создании',
  'cond.movesFromCreation': '{pair}: движение на {pct}% от цены при создании',
  'cond.upWithin': '{pair}: рост на {pct}% за {window}',
  'cond.downWithin': '{pair}: падение на {pct}% за {window}',
  'cond.movesWithin': '{pair}: движение на {pct}% за {window}',

  // ---- /alert, /alerts, /delete ----
  'alert.created': '✅ Алерт #{id}: {condition} ({exchange})',
  'alert.createdNow': 'Сейчас {price} {quote}.',
  'alert.createdNowAway': 'Сейчас {price} {quote}, {distance}.',
  'alert.atLevel': 'ровно на уровне',
  'alert.belowLevel': 'на {pct}% ниже уровня',
  'alert.aboveLevel': 'на {pct}% выше уровня',
  'alert.holdsNow': 'Условие уже выполняется, поэтому алерт сработает со следующей ценой.',
  'alert.repeats': 'Повторяется не чаще раза в {duration}, после того как цена вернётся назад.',
  'alert.once': 'Сработает один раз. /alerts покажет его, /delete {id} удалит.',
  'alerts.none': 'В этом чате нет активных алертов. Создайте алерт: /alert BTC/USDT > 100000',
  'alerts.header': 'Алерты этого чата ({count} из {max}):',
  'alerts.footer': 'Удалить алерт: /delete <номер>.',
  'alerts.lineOn': 'на {exchange}',
  'alerts.lineEvery': 'раз в {duration}',
  'alerts.lineUntil': 'до {date} UTC',
  'alerts.linePaused': 'на паузе',
  'alerts.deletedNone': 'Удалять было нечего: алертов нет.',
  'alerts.deletedAll': {
    one: 'Удалён {count} алерт этого чата.',
    few: 'Удалены все {count} алерта этого чата.',
    many: 'Удалены все {count} алертов этого чата.',
    other: 'Удалены все {count} алерта этого чата.',
  },
  'alerts.deletedOne': 'Алерт #{id} удалён: {condition}.',
  'delete.which': 'Какой алерт? Укажите номер из /alerts или «all».',
  'delete.notAnId': '«{input}» — не номер алерта. Номера — это числа, их показывает /alerts.',
  'delete.noSuch': 'В этом чате нет алерта #{id}. Ваши алерты — в /alerts.',
  'alerts.quota': {
    one: 'В этом чате уже {count} алерт — это предел ({max}). Сначала удалите его.',
    few: 'В этом чате уже {count} алерта — это предел ({max}). Сначала удалите какие-нибудь.',
    many: 'В этом чате уже {count} алертов — это предел ({max}). Сначала удалите какие-нибудь.',
    other: 'В этом чате уже {count} алерта — это предел ({max}). Сначала удалите какие-нибудь.',
  },
  'alerts.expired': 'Срок алерта #{id} истёк. Создайте новый командой /alert.',

  // ---- кнопки ----
  'button.snooze': '⏰ Отложить на 1 ч',
  'button.rearm': '🔁 Включить снова',
  'button.delete': '❌ Удалить',
  'button.rearmed': 'Алерт #{id} снова включён.',
  'button.rearmedHolds': 'Алерт #{id} снова включён. Условие уже выполняется, поэтому он сработает со следующей ценой.',
  'button.alreadyOn': 'Алерт #{id} уже включён.',
  'button.snoozed': 'Алерт #{id} отложен до {time}.',
  'button.gone': 'Этого алерта больше нет.',

  // ---- сработавший алерт ----
  'notify.sourcePoll': ' (цена получена опросом REST, пока поток был недоступен)',
  'notify.sourceGapfill': ' (цена достигнута, пока поток был недоступен; обнаружено после его восстановления)',
  'notify.price': '{pair}: {price} {quote} на {exchange}{sourceNote}',
  'notify.footer': '{when} UTC{local} · алерт #{id}',
  'notify.footerRepeating': '{when} UTC{local} · алерт #{id} (повторяющийся)',
  'notify.note': 'Заметка: {note}',

  // ---- отслеживание ----
  'watch.message': '{icon} {pair} {pct} до {price} {quote} на {exchange} (от {from} с {time}){sourceNote}',
  'watch.added': '👀 Отслеживаю {pair} на {exchange}: сообщение всякий раз, когда цена сдвинется на {pct}% в любую сторону.',
  'watch.addedCount': 'Сейчас {price} {quote}. Пар в списке: {count} из {max}; /watchlist покажет их, /unwatch {pair} уберёт эту.',
  'watch.unchanged': '{pair} на {exchange} уже отслеживается с порогом {pct}%; ничего не изменилось.',
  'watch.unchangedNow': 'Сейчас {price} {quote}. /unwatch {pair} уберёт её.',
  'watch.changed': '✏️ {pair} на {exchange} уже была в списке: порог изменён с {from}% на {pct}%.',
  'watch.changedNow': 'Сейчас {price} {quote}.',
  'watch.changedNowFrom': 'Сейчас {price} {quote}. Движение по-прежнему считается от {reference} {quote} (с {time}).',
  'watch.removed': 'Больше не отслеживаю {pair} на {exchange}.',
  'watchlist.empty': 'Список отслеживания этого чата пока пуст. Попробуйте /watch BTC/USDT — сообщение после каждого движения на 3%.',
  'watchlist.header': 'Список отслеживания ({count} из {max}); сообщение после каждого движения на ± порог:',
  'watchlist.footer': 'Изменить порог: /watch <пара> <процент>, убрать пару: /unwatch <пара>.',
  'watchlist.head': '{pair} на {exchange}:',
  'watchlist.noPrice': 'цены сейчас нет',
  'watchlist.sourceStream': 'живой поток',
  'watchlist.sourcePoll': 'опрос',
  'watchlist.sourceGapfill': 'восполнение пропуска',
  'watchlist.sourceRest': 'снимок по REST',
  'watch.whichPairBeforePct': 'Какая пара? Укажите её перед процентом.',
  'watch.whichPair': 'Какая пара? Укажите её после /{command}.',
  'watch.takesPairPct': '/watch принимает одну пару и, по желанию, процент, а получено «{input}».',
  'watch.takesPair': '/unwatch принимает одну пару, а получено «{input}».',
  'watch.pctSuffix': 'Вы имели в виду {token}%? Порог задаётся в процентах.',
  'watch.noSign': 'Отслеживание сообщает о движении в обе стороны, поэтому порог пишется без знака. Для одного направления используйте /alert {pair} {token}.',
  'watch.badPct': 'Не могу прочитать «{token}» как процент; пишите, например, 3% или 2.5%.',
  'watch.pctDecimals': 'В пороге не больше 4 знаков после точки, а в «{token}» больше.',
  'watch.pctRange': 'Порог должен быть от {min}% до {max}%; {value}% — вне этих пределов.',
  'watch.notWatched': '{pair} нет в списке отслеживания этого чата. Что в нём есть — покажет /watchlist.',
  'watch.notWatchedOn': '{pair} на {exchange} нет в списке отслеживания этого чата. Что в нём есть — покажет /watchlist.',
  'watch.quota': {
    one: 'Этот чат уже отслеживает {count} пару — это предел ({max}). Сначала уберите её через /unwatch.',
    few: 'Этот чат уже отслеживает {count} пары — это предел ({max}). Сначала уберите одну через /unwatch.',
    many: 'Этот чат уже отслеживает {count} пар — это предел ({max}). Сначала уберите одну через /unwatch.',
    other: 'Этот чат уже отслеживает {count} пары — это предел ({max}). Сначала уберите одну через /unwatch.',
  },
  'watch.ambiguous': '{pair} отслеживается на {exchanges} и {last}; укажите, на какой бирже перестать отслеживать.',

  // ---- пары и биржи ----
  'price.whichPair': 'Какая пара? Укажите её после /price.',
  'price.onePair': '/price принимает одну пару, а получено «{input}».',
  'pair.which': 'Какая пара? Укажите, например, BTC/USDT.',
  'pair.tooLong': '«{input}…» — слишком длинно для торговой пары.',
  'pair.bad': '«{input}» не похоже на торговую пару. Пишите в виде BASE/QUOTE.',
  'pair.same': '{pair}: одна и та же валюта с обеих сторон.',
  'pair.notTraded': '{pair} не торгуется на {exchange}.',
  'pair.notTradedSuggest': '{pair} не торгуется на {exchange}. Может быть, {suggestions}?',
  'exchange.notEnabled': 'Биржа {exchange} не подключена к этому боту. Подключены: {enabled}.',
  'exchange.which': 'На какой бирже? Подключены: {enabled}.',

  // ---- грамматика /alert ----
  'grammar.tooLong': {
    one: 'Слишком длинно для алерта ({count} символ).',
    few: 'Слишком длинно для алерта ({count} символа).',
    many: 'Слишком длинно для алерта ({count} символов).',
    other: 'Слишком длинно для алерта ({count} символа).',
  },
  'grammar.usage': 'Укажите пару и условие: > 200, < 200, crosses 100k, +5%, -5% или 3% in 1h. Параметры: every 30m, for 7d, on <биржа>, -- заметка.',
  'grammar.noteTooLong': 'Заметка может быть не длиннее {max} символов, а в вашей {count}.',
  'grammar.pairFirst': 'Сначала пара, потом условие.',
  'grammar.whatCondition': 'Чего ждать от {pair}? Добавьте условие, например > 200, crosses 200 или +5%.',
  'grammar.exactPrice': 'Ждать одну точную цену я не могу; используйте crosses.',
  'grammar.byHowMuch': '{word} — на сколько? Добавьте процент, например {word} {by}.',
  'grammar.percentSuffix': 'Вы имели в виду {token}%? Движение задаётся в процентах.',
  'grammar.addOpFor': 'Добавьте > или < перед ценой: /alert {pair} > {token} или /alert {pair} < {token}.',
  'grammar.addOp': 'Добавьте > или < и цену, например > 200 или < 200.',
  'grammar.pairOneWord': 'Пишите пару одним словом, например {pair}.',
  'grammar.whatPrice': '{word} — какая цена? Добавьте её, например {word} 200.',
  'grammar.levelPercent': 'Уровень цены не может быть в процентах; для движения пишите {dir} {pct}.',
  'grammar.priceAboveZero': 'Цена должна быть больше нуля.',
  'grammar.grouping': 'Не могу прочитать «{token}»: разделяйте разряды по три цифры (1,000), а дробную часть — точкой (1.5).',
  'grammar.badPrice': 'Не могу прочитать «{token}» как цену; пишите, например, 200, 1.5k или 0.00001234.',
  'grammar.priceDecimals': 'В числе {token} больше 18 знаков после точки.',
  'grammar.priceTooLarge': '{token} — слишком большая цена.',
  'grammar.bothWays': '«{word} {token}» указывает в обе стороны; пишите up 5% или down 5%.',
  'grammar.badPercent': 'Не могу прочитать «{token}» как процент; пишите, например, 5% или 2.5%.',
  'grammar.percentAboveZero': 'Процент должен быть больше нуля.',
  'grammar.percentDecimals': 'В процентах не больше 4 знаков после точки, а в «{token}» больше.',
  'grammar.dropMax': 'Падение может быть не больше 100%.',
  'grammar.moveMax': 'Движение может быть не больше 1000%.',
  'grammar.howLong': '{word} — какой срок? Добавьте длительность, например {word} {sample}.',
  'grammar.durationUnit': 'Не знаю единицу в «{token}»; используйте m, h, d или w.',
  'grammar.durationNoUnit': '{token} — чего? Добавьте единицу измерения, например {token}m или {token}h.',
  'grammar.durationBad': '«{token}» — не длительность; пишите, например, 30m, 4h или 1h30m.',
  'grammar.durationRange': '«{word}» принимает от {min} до {max}; {token} — вне этих пределов.',
  'grammar.inAfterPercent': '«{word}» ставится только после процента, например 3% in 1h.',
  'grammar.twice': '«{word}» указано дважды; оставьте одно.',
  'grammar.eitherOr': 'Используйте либо «{earlier}», либо «{word}», но не оба.',
  'grammar.untilWhen': 'until — до какого времени? Добавьте дату, например 2026-12-31 или 2026-12-31T18:00Z (UTC).',
  'grammar.badDate': 'Не могу прочитать «{token}» как дату; пишите, например, 2026-12-31 или 2026-12-31T18:00Z (UTC).',
  'grammar.pastDate': '{token} уже в прошлом.',
  'grammar.untilMax': 'Срок алерта можно задать не больше чем на год вперёд.',
  'grammar.unknownWord': 'Не понимаю «{token}».',
  'grammar.unknownWordGuess': 'Не понимаю «{token}». Может быть, «{guess}»?',

  // ---- /timezone ----
  'timezone.utcSet': 'Время в сообщениях теперь только в UTC.',
  'timezone.utc': 'Время в сообщениях — в UTC. Задайте свой пояс: /timezone Europe/Moscow.',
  'timezone.set': 'Часовой пояс установлен: {zone} (сейчас {time}). Алерты показывают это время рядом с UTC.',
  'timezone.current': 'Часовой пояс: {zone} (сейчас {time}). Алерты показывают это время рядом с UTC.',
  'timezone.oneName': 'Укажите одно название часового пояса, например Europe/Moscow.',
  'timezone.unknown': '«{input}» — незнакомый мне часовой пояс. Используйте название вида Регион/Город из списка IANA.',

  // ---- /webhook ----
  'webhook.set': 'Вебхук задан: {url}',
  'webhook.secret': 'Секрет (показывается один раз — сохраните его сейчас): {secret}',
  'webhook.verify':
    'Каждый алерт отправляется туда POST-запросом в JSON. Чтобы проверить запрос, вычислите HMAC-SHA256 исходного тела с этим секретом: заголовок x-maxflash-signature — это "sha256=" и полученный hex. x-maxflash-delivery одинаков при повторной доставке.',
  'webhook.lostSecret': 'Потеряли секрет? Отправьте /webhook с тем же URL ещё раз — будет новый. /webhook off удалит вебхук.',
  'webhook.none': 'Вебхука нет. С /webhook https://example.org/hook каждый алерт будет также отправляться туда подписанным JSON.',
  'webhook.statusActive': 'Вебхук: {url} (активен)',
  'webhook.statusInactive': 'Вебхук: {url} (неактивен)',
  'webhook.lastError': 'Последняя ошибка: {error}',
  'webhook.lastErrorFailures': {
    one: 'Последняя ошибка: {error} ({count} неудача подряд)',
    few: 'Последняя ошибка: {error} ({count} неудачи подряд)',
    many: 'Последняя ошибка: {error} ({count} неудач подряд)',
    other: 'Последняя ошибка: {error} ({count} неудачи подряд)',
  },
  'webhook.noErrors': 'Ошибок доставки нет.',
  'webhook.secretNote': 'Секрет показывается только при установке вебхука. /webhook off удалит его.',
  'webhook.removed': 'Вебхук удалён; алерты приходят только в этот чат.',
  'webhook.noneToRemove': 'У этого чата нет вебхука.',
  'webhook.switchedOff': {
    one: '⚠️ Вебхук отключён: {count} неудачная доставка подряд на {url}.',
    few: '⚠️ Вебхук отключён: {count} неудачные доставки подряд на {url}.',
    many: '⚠️ Вебхук отключён: {count} неудачных доставок подряд на {url}.',
    other: '⚠️ Вебхук отключён: {count} неудачной доставки подряд на {url}.',
  },
  'webhook.switchedOffHowTo': 'Алерты по-прежнему приходят сюда. Чтобы снова отправлять их туда, пришлите /webhook {url} (секрет будет новым).',
  'webhook.oneUrl': 'Укажите один URL длиной не больше {max} символов.',
  'webhook.notUrl': '«{input}» — не URL.',
  'webhook.local': 'Этот бот не отправляет запросы на локальные адреса и адреса частных сетей. Укажите публичный https URL.',
  'webhook.https': 'URL вебхука должен начинаться с https:// (обычный http — только для локального получателя, где это разрешено).',
  'webhook.credentials': 'Не указывайте логин и пароль в URL; вместо этого проверяйте заголовок подписи.',

  // ---- чат в терминале ----
  'console.greeting': 'MaxFlash: чат в терминале. Наберите /help или попробуйте /price BTC/USDT.',

  // ---- /language ----
  'language.current': 'Язык: русский. Варианты: /language en (English), /language ru (русский).',
  'language.set': 'Готово: здесь я буду отвечать по-русски, и алерты тоже.',
  'language.unknown': 'Язык «{input}» не поддерживается. Варианты: en (English), ru (русский).',
} as const satisfies RuShape;

/**
 * Compile-time check that each Russian message takes exactly the English placeholders: a mismatch names
 * the key in the error on `placeholdersMatch` below.
 */
type Mismatched = { [K in MessageKey]: SameSet<EntryPlaceholders<En[K]>, EntryPlaceholders<(typeof ru)[K]>> extends true ? never : K }[MessageKey];
export const placeholdersMatch: [Mismatched] extends [never] ? true : { mismatchedPlaceholders: Mismatched } = true;
