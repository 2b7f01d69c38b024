"""Fixed wording of the chat (the words residents read).

Short sentences, one action per line. Never ask for ID numbers, card numbers, passwords
or verification codes; never say something is definitely safe.
Everything about scams themselves (red flags, advice, numbers) comes from the knowledge
base (data/kb) through bot.kb, not from here.
"""
from __future__ import annotations

from typing import List

from bot.kb import loss, wording

# The risk marks and the verdict's "why"/"do now" lines are shared with the gateway's
# degraded reply: bot.kb.wording.
RISK_ICONS = wording.RISK_ICONS

# Buttons ---------------------------------------------------------------------------------
ANSWER_BUTTONS: List[dict] = [
    {"title": "是", "payload": "/affirm"},
    {"title": "不是", "payload": "/deny"},
    {"title": "不确定", "payload": "/unsure"},
]
MENU_BUTTONS: List[dict] = [
    {"title": "查一查可疑电话短信", "payload": "/start_check"},
    {"title": "我已经转账了", "payload": "/report_loss"},
    {"title": "反诈知识", "payload": "/ask_scam_type"},
    {"title": "求助电话", "payload": "/ask_which_number"},
]
AFTER_LOSS_BUTTONS: List[dict] = [
    {"title": "继续自查", "payload": "/continue_check"},
    {"title": "求助电话", "payload": "/ask_which_number"},
]
AFTER_VERDICT_BUTTONS: List[dict] = [
    {"title": "查另一件事", "payload": "/restart"},
    {"title": "求助电话", "payload": "/ask_which_number"},
]

# Self-check ----------------------------------------------------------------------------------
INTRO_ONE = "听起来像「{short_name}」{scam}。问您一个问题，帮您判断："
INTRO_MANY = "听起来像「{short_name}」{scam}。问您几个问题，帮您判断："
INTRO_CHANGED = "听起来更像「{short_name}」{scam}。再问您一下："
ASK_DESCRIBE = (
    "请把对方说的话、发来的短信，或者发生了什么，直接发给我。\n"
    "不用发身份证号、银行卡号、密码和验证码。"
)
ASK_DESCRIBE_AFTER_LOSS = (
    "请说说发生了什么：对方自称是谁？让您做了什么？\n"
    "我帮您看看是哪种骗局。"
)
NEW_CHECK = "这像是另一件事，我们重新看一下。"
ASK_MORE = "能再多说一点吗？\n对方自称是谁？说了什么？让您做什么？"
NO_QUESTION_PENDING_AFFIRM = ASK_DESCRIBE
NO_QUESTION_PENDING_DENY = "好的。有拿不准的事，随时发给我。\n也可以打 96110 反诈专线问一问。"
NOTHING_TO_ASSESS = "还没听您说发生了什么。\n" + ASK_DESCRIBE
AFTER_VERDICT = "还有新情况，可以接着告诉我。"

# Verdict -----------------------------------------------------------------------------------------
# The short reminder that leads a later turn of a check once the urgent steps were given
# (the steps themselves: bot.kb.loss_steps, rendered by actions.render.urgent_lines).
MONEY_LOST_FIRST_LINE = "🚨 钱已经转出去了：马上打 110 报警，再打银行客服电话止付！"
CREDENTIALS_FIRST_LINE = "🚨 验证码、密码已经给出去了：马上打 110 报警，再打银行客服电话冻结账户！"
REMINDER_BY_STAGE = {"paid": MONEY_LOST_FIRST_LINE, "credentials_given": CREDENTIALS_FIRST_LINE}
WHY, DO_NOW = wording.WHY, wording.DO_NOW
ANSWER_FLAG_LINE = "·您答了“是”：{question}"
CLASSIFIER_ONLY_LINE = "·您说的情况，和「{short_name}」诈骗的常见说法很像"
NONE_WHY_LINE = "·没发现常见的诈骗信号，但这不代表没有风险"
UNKNOWN_WHY_LINE = "·有可疑的地方，但看不出是哪一种骗局"
HOTLINE_LINE = "📞 {name}：{number}（{when}）"
APP_LINE = "📱 {name}（{when}）"

# Urgent path -------------------------------------------------------------------------------------
# The urgent message itself is rendered once, by bot.kb.loss (LossSteps.message_lines).
URGENT_HEADER, HANG_UP_HEADER, PHONE_MARK = loss.URGENT_HEADER, loss.HANG_UP_HEADER, loss.PHONE_MARK
AFTER_LOSS = "做完这些，我可以接着帮您看看是哪种骗局。"

# FAQ --------------------------------------------------------------------------------------------
TYPE_MENU = "想了解哪一种骗局？点一下，或者直接问，比如“什么是杀猪盘”："
TYPE_HEADER = "「{short_name}」是怎么骗人的："
TYPE_RECOGNISE = "怎么认出来："
TYPE_NEVER = "记住："
TYPE_VERIFY = "怎么核实：{tip}"
HOTLINE_INFO_HEADER = "这几个号码和App，都是官方的反诈渠道："
HOTLINE_INFO_LINE = "·{name}{number_part}：{when}"
HOTLINE_96110_CALLING = (
    "96110 打给您，是反诈中心在提醒您：可能有人正在骗您。\n"
    "请接听，听民警的，先停下转账。"
)
CALLER_ID_WARNING = "来电显示可以伪造。拿不准就挂断，自己拨打官方号码问。"
VERIFY_HEADER = "核实对方身份，记住一条：挂断，自己查官方电话打回去问。\n不要用对方给的号码、链接。"
VERIFY_LINE = "·{who}：{tip}"
VERIFY_BANK_TIP = "挂断电话，打银行卡背面的客服电话，或者去网点柜台问"
VERIFY_BANK_NUMBER = "·{name}客服电话：{number}"
VERIFY_WHO = {
    "police_impersonation": "自称警察、法院、医保社保",
    "bank": "自称银行",
    "fake_teacher": "自称老师、学校",
    "acquaintance_impersonation": "自称亲友、领导",
    "customer_service_impersonation": "自称客服、快递",
}
LINK_NUMBER_HEADER = "我这里查不了号码库，只能告诉您怎么核实："
LINK_NUMBER_OFFICIAL = "{value} 是{name}的号码。\n" + CALLER_ID_WARNING
LINK_NUMBER_UNKNOWN = "{value}：我这里查不到记录，不代表它安全。"
LINK_URL_TIPS = [
    "不要点陌生链接，更不要在里面填银行卡、密码、验证码",
    "不扫陌生二维码，不下载对方发来的App",
]
LINK_PHONE_TIPS = [
    "对方让您转账、要验证码、要开屏幕共享：就是骗子，马上挂断",
    "在“国家反诈中心”App里，可以查号码、网址有没有风险",
]
LINK_INVITE = "也可以把整条短信或对方说的话发给我，我帮您看看。"
WHICH_NUMBER_HEADER = "遇到诈骗，这样打电话："
WHICH_NUMBER_110_VS_96110 = (
    "110 和 96110 的区别：\n"
    "·钱已经被骗走、正在被骗、对方威胁您：打 110 报警\n"
    "·拿不准是不是诈骗、想咨询：打 96110 反诈专线"
)
WHICH_NUMBER_BANKS_HINT = "银行客服电话：告诉我是哪家银行，我把号码给您。"
BANK_LINE = "📞 {name}：{number}"

# Fallback ------------------------------------------------------------------------------------------
FALLBACK_FIRST = (
    "没太看懂您的意思。您可以：\n"
    "·把对方说的话、短信原文直接发给我\n"
    "·或者点下面的按钮"
)
FALLBACK_FIRST_IN_QUESTION = "没太看懂。请点“是”“不是”或“不确定”："
FALLBACK_SECOND = "抱歉，我还是没看懂。拿不准的话，直接打电话问："
RESTARTED = "好的，重新开始。\n" + ASK_DESCRIBE

# Outreach: quiz and scam drills (actions/outreach.py) ------------------------------------------
QUIZ_ASK_AUDIENCE = "反诈小测验：{count} 道题，答完看看您是不是反诈达人。\n先选一选，您是："
QUIZ_AUDIENCE_BUTTONS: List[dict] = [
    {"title": "老年朋友", "payload": '/start_quiz{"audience": "elderly"}'},
    {"title": "家长", "payload": '/start_quiz{"audience": "parents"}'},
    {"title": "学生", "payload": '/start_quiz{"audience": "students"}'},
    {"title": "所有人", "payload": '/start_quiz{"audience": "all"}'},
]
QUIZ_STARTED = "📝 {title}，一共 {total} 题。点选项作答，随时说“不玩了”退出。"
QUIZ_QUESTION = "第 {number}/{total} 题\n{scene}\n{ask}"
QUIZ_RIGHT = "✅ 答对了！"
QUIZ_WRONG = "❌ 答错了。正确答案是 {letter}：{option}"
QUIZ_RESULT = "🎉 测验结束：答对 {score}/{total} 题\n等级：{level}\n{message}\n记住这一条：{tip}"
QUIZ_NOT_A_CHOICE = "请点一个选项，或者回复 A、B、C。\n想退出，就说“不玩了”。"
QUIZ_OLD_QUESTION = "这道题已经答过了，接着答下一题："
QUIZ_NONE_ACTIVE = "现在没有进行中的测验。想再来一次吗？"
DRILL_MENU = "骗局模拟演练：我扮演骗子，您来识破他。\n选一种骗局："
DRILL_NO_SCRIPT = "「{name}」还没有演练脚本。"
DRILL_STARTED = "🎭 演练开始：{title}\n{intro}\n随时说“不玩了”就能退出。"
DRILL_STEP = "第 {number}/{total} 步 · {scammer}说：\n“{says}”\n您会怎么回？点一个，或者用自己的话回（别输入真实信息）："
DRILL_SAFE = "✅ 安全！{feedback}"
DRILL_UNSAFE = "❌ 不安全：{feedback}"
DRILL_FLAG = "要识破的信号：{flag}"
DRILL_UNSURE = "🤔 {guidance}"
DRILL_REAL_LOSS = "（这是演练。如果现实中真的已经转了钱：马上打 110，再打银行客服电话止付。）"
DRILL_RESULT = "🏁 演练结束：{score}/{total} 步回得安全 · {level}\n{message}"
DRILL_ADVICE = "遇到「{name}」，现在就做："
DRILL_NEVER = "记住："
DRILL_OLD_STEP = "这一步已经回过了，接着看下一步："
OUTREACH_STOPPED = "好的，已经退出{what}。\n有可疑电话、短信，直接发给我，我帮您看看。"
OUTREACH_NOTHING_TO_STOP = "好的。有可疑电话、短信，直接发给我，我帮您看看。"
OUTREACH_EXPIRED = "刚才的{what}已经结束了。"
QUIZ_END_BUTTONS: List[dict] = [
    {"title": "再来一次", "payload": "/start_quiz"},
    {"title": "骗局模拟演练", "payload": "/start_drill"},
    {"title": "查一查可疑电话短信", "payload": "/start_check"},
]
DRILL_END_BUTTONS: List[dict] = [
    {"title": "再练一种", "payload": "/start_drill"},
    {"title": "做个反诈小测验", "payload": "/start_quiz"},
    {"title": "查一查可疑电话短信", "payload": "/start_check"},
]
