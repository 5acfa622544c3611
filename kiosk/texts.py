"""Every sentence the kiosk screen says, in Chinese and English (plain words for citizens of every age)."""
from __future__ import annotations

T = {
    "home_title": ("请选择您要办理的业务", "Choose what you need to do"),
    "items_title": ("{type}：请选择办理事项", "{type}: choose your matter"),
    "no_items": ("此业务无需选择事项，请直接取号", "Nothing to choose here: take a number"),
    "take": ("取号", "Take a number"),
    "take_type": ("直接取号", "Just take a number"),
    "slip_on": ("同时打印告知单：是", "Also print this notice: yes"),
    "slip_off": ("同时打印告知单：否", "Also print this notice: no"),
    "back": ("返回", "Back"),
    "home": ("首页", "Home"),
    "lang": ("English", "中文"),
    "large_on": ("大字", "Large text"),
    "large_off": ("标准字", "Normal text"),
    "done": ("完成", "Done"),
    "retry": ("重试", "Try again"),
    "forget_me": ("清除身份信息", "Forget my details"),
    "waiting_people": ("等候 {n} 人", "{n} waiting"),
    "about_min": ("约 {m} 分钟", "about {m} min"),
    "quota_left": ("今日余号 {n}", "{n} left today"),
    "type_closed": ("暂停取号", "Not issuing now"),
    "materials": ("所需材料", "What to bring"),
    "steps": ("办理步骤", "Steps"),
    "conditions": ("办理条件", "Who can apply"),
    "fee": ("收费", "Fee"),
    "time_limit": ("办理时限", "Time limit"),
    "copies": ("{n}份", "{n} cop{ies}"),
    "issuer": ("出具：{who}", "from: {who}"),
    "form_original": ("原件", "original"),
    "form_copy": ("复印件", "copy"),
    "form_original_and_copy": ("原件和复印件", "original and a copy"),
    "form_form": ("现场填写", "filled in at the hall"),
    "working": ("正在出号，请稍候……", "Taking your number, one moment..."),
    "your_number": ("您的号码", "Your number"),
    "ahead": ("前面还有 {n} 人", "{n} people ahead of you"),
    "ahead_one": ("前面还有 1 人", "1 person ahead of you"),
    "ahead_none": ("前面没有人，请留意叫号", "Nobody is ahead of you: watch for your number"),
    "wait": ("预计等候约 {m} 分钟", "Expected wait: about {m} minutes"),
    "wait_unknown": ("暂无开放窗口，请留意叫号", "No window is open for this just now: watch for your number"),
    "called_after": ("{t} 后叫号", "Called after {t}"),
    "printing": ("正在打印号票，请稍候……", "Printing your ticket..."),
    "slip_printing": ("正在打印告知单……", "Printing your notice slip..."),
    "uncertain": ("打印机未能确认号票已打出。如果没有拿到完整的号票，请记下号码并联系现场工作人员。",
                  "The printer could not confirm your ticket printed. If you have no whole ticket, note the "
                  "number and ask a member of staff."),
    "take_paper": ("请取走号票", "Please take your ticket"),
    "slip_printed": ("告知单已打印，请一并取走", "Your notice slip is printed too"),
    "slip_failed": ("告知单未能打印，请向工作人员索取", "The notice slip could not be printed: please ask staff"),
    "refused_quota_reached": ("今日号已取完", "No more numbers today"),
    "refused_outside_hours": ("现在不是取号时间", "Numbers are not issued now"),
    "refused_business_type_closed": ("该业务暂停办理", "This service is closed just now"),
    "refused_throttled": ("取号太频繁", "Too many numbers at once"),
    "refused_other": ("未能取号", "No number could be issued"),
    "throttled": ("请稍等片刻再取号。", "Please wait a moment, then take your number."),
    "ask_staff": ("请联系现场工作人员。", "Please ask a member of staff."),
    "come_back": ("请于 {t} 后再来", "Please come back from {t}"),
    "ask_when": ("何时恢复请咨询现场工作人员，您也可以选择其他业务", "Please ask staff when it opens again, or choose another service"),
    "refusal_slip": ("已打印说明单，请取走", "A note with this is printed for you"),
    "print_failed_title": ("未能出号", "No number issued"),
    "print_failed": ("打印机出了故障，号票没有打印出来，这个号已作废。请联系现场工作人员。",
                     "The printer failed, so your ticket did not print and the number was withdrawn. "
                     "Please ask a member of staff."),
    "unavailable_title": ("暂时无法连接排队系统", "The queue system cannot be reached"),
    "unavailable": ("请稍后点“重试”。如果多次失败，请联系现场工作人员。",
                    "Tap \"Try again\" in a moment. If it keeps failing, please ask a member of staff."),
    "oos_title": ("暂停服务", "Out of service"),
    "oos_printer": ("打印机暂时不能使用（{why}），请联系现场工作人员。",
                    "The printer cannot be used just now ({why}). Please ask a member of staff."),
    "oos_server": ("正在连接排队系统，请稍候或联系现场工作人员。",
                   "Connecting to the queue system. Please wait or ask a member of staff."),
    "oos_recover": ("恢复后本机会自动继续服务。", "This kiosk carries on by itself once it is fixed."),
    "identified": ("已识别：{who}", "Identified: {who}"),
    "priority_elderly": ("老年人优先", "priority: elderly"),
    "appointment": ("预约签到：{ref}", "Appointment check-in: {ref}"),
    "not_understood": ("无法识别此码，请换一个码或直接取号", "This code cannot be read: try another or just take a number"),
    "scan_hint": ("老年人、预约的市民：请刷身份证或扫医保码", "Elderly or booked? Read your ID card or scan your code"),
}

PRINTER_PROBLEMS = {
    "paper_out": ("缺纸", "out of paper"), "cover_open": ("盖子打开", "cover open"),
    "offline": ("离线", "offline"), "no_answer": ("无响应", "not answering"),
    "unplugged": ("未连接", "not connected"), "bad_reply": ("通信错误", "garbled reply"),
    "printer_error": ("故障", "error"), "write_timeout": ("发送超时", "too slow"),
}


def t(key: str, lang: str, **kw) -> str:
    zh, en = T[key]
    text = en if lang == "en" else zh
    if "{ies}" in text:
        kw["ies"] = "y" if kw.get("n") == 1 else "ies"
    return text.format(**kw) if kw else text


def printer_problem(code: str | None, lang: str) -> str:
    pair = PRINTER_PROBLEMS.get(code or "", (code or "", code or ""))
    return pair[1] if lang == "en" else pair[0]
