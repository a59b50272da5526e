"""R-CB: follow-up lists (回访) read from CSV: good rows, every kind of bad row, a BOM."""

from ari_app.core.followup import FollowupLine, normalise_number, parse_followup_csv


def test_good_rows_are_normalised_and_keep_their_notes():
    rows, errors = parse_followup_csv("number,note\n138 0013 5678,invoice question\n+86-139-0000-1111\n"
                                      '010-1234567,"late delivery, twice"\n')
    assert errors == []
    assert rows == [FollowupLine("13800135678", "invoice question", 2), FollowupLine("+8613900001111", "", 3),
                    FollowupLine("0101234567", "late delivery, twice", 4)]


def test_header_only_number_blank_lines_and_a_bom():
    rows, errors = parse_followup_csv("\ufeff\n Number \n\n13800135678\r\n\n13900001111\n")
    assert errors == []
    assert [(r.number, r.line) for r in rows] == [("13800135678", 4), ("13900001111", 6)]


def test_bad_rows_are_reported_by_line_and_not_imported():
    text = ("number,note\n"
            "13800135678,ok\n"
            "12,too short\n"
            "1380013567800000000000,too long\n"
            "138-abc-5678,letters\n"
            "++13800135678,two pluses\n"
            ",no number\n"
            "138 0013 5678,same number again\n"
            "13900001111,a,b\n"
            "13700001111,\"a note\non two lines\"\n"
            "13600001111,last\n")
    rows, errors = parse_followup_csv(text)
    assert [(r.number, r.line) for r in rows] == [
        ("13800135678", 2), ("13700001111", 11), ("13600001111", 12)]
    assert rows[1].note == "a note\non two lines"
    assert errors == [
        "line 3: the number has 2 digits, expected 3-20",
        "line 4: the number has 22 digits, expected 3-20",
        "line 5: the number may hold only digits, spaces, dashes and a leading +",
        "line 6: the number may hold only digits, spaces, dashes and a leading +",
        "line 7: the number is empty",
        "line 8: the same number as line 2; skipped",
        "line 9: expected 2 columns (number,note), got 3",
    ]
    assert not any("138" in e for e in errors)  # R-PRIVACY: messages never repeat a number


def test_a_wrong_header_or_an_empty_file_imports_nothing():
    assert parse_followup_csv("phone,comment\n13800135678,x\n") == (
        [], ["line 1: expected the header 'number,note' (note optional), got 'phone,comment'"])
    assert parse_followup_csv("13800135678\n") == (
        [], ["line 1: expected the header 'number,note' (note optional), got '13800135678'"])
    assert parse_followup_csv("\ufeff \n") == (
        [], ["line 1: the file is empty; expected the header 'number,note'"])
    assert parse_followup_csv("number\n13800135678,extra\n")[1] == [
        "line 2: expected 1 column (number), got 2"]


def test_normalise_number():
    assert normalise_number(" +86 138-0013-5678 ") == ("+8613800135678", "")
    assert normalise_number("1+2") == (
        None, "the number may hold only digits, spaces, dashes and a leading +")
